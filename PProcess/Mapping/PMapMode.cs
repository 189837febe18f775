namespace PProcess;

/// <summary>How PMap shares the elements out among child processes (<see cref="PMapOptions.Mode"/>).</summary>
public enum PMapMode
{
    /// <summary>
    /// The default. At most <see cref="PMapOptions.Limit"/> children are forked when the enumeration
    /// starts, and each serves chunks of elements until the source is exhausted. Chunks start at one
    /// element and grow, as the children report how long their elements took, toward a few
    /// milliseconds of work each (or are <see cref="PMapOptions.BatchSize"/> elements, when set).
    /// An array or list is handed over as index ranges, read by the children from their
    /// copy-on-write view of it; elements of other sources cross through the serializer when it
    /// carries them whole, and otherwise a child is forked per chunk with the chunk in its closure.
    /// </summary>
    Adaptive,

    /// <summary>
    /// pprocess's pmap: a child forked per element (per <see cref="PMapOptions.BatchSize"/> elements,
    /// when set), which sees the element, and the parent's memory, as they were at its fork. A fork
    /// costs milliseconds (docs/performance.md); with <see cref="PMapOptions.Reuse"/>, children are
    /// kept and handed further batches through the serializer instead.
    /// </summary>
    ForkPerElement,
}
