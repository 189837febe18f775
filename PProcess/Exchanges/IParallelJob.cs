namespace PProcess.Exchanges;

/// <summary>
/// What MakeParallel and MakeReusable made of a plain function: the function itself (for job names
/// in errors, and compiled before the fork so that children inherit it) and whether its children
/// can serve further jobs. The exchanges find it on the job object, with no side table.
/// </summary>
internal interface IParallelJob
{
    Delegate Function { get; }

    bool IsReusable { get; }

    /// <summary>What a new child runs for the job with these arguments (made when the job is forked, not when it is queued).</summary>
    Action<Channel> BodyFor(object?[] args);

    /// <summary>What an idle reused child receives for the job: one argument as itself, several as a value tuple.</summary>
    object? MessageFor(object?[] args);
}
