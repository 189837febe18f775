using System.Runtime.CompilerServices;

namespace PProcess.Exchanges;

/// <summary>
/// What MakeParallel and MakeReusable made a delegate from: the plain function (for job names
/// and for compiling it before forking) and whether its children can be reused. The delegates
/// they return are registered here, so an exchange recognises them.
/// </summary>
internal sealed class WrappedJob(Delegate function, bool reusable)
{
    private static readonly ConditionalWeakTable<Delegate, WrappedJob> Registry = [];

    internal Delegate Function { get; } = function;

    internal bool Reusable { get; } = reusable;

    internal static TDelegate Register<TDelegate>(TDelegate made, Delegate function, bool reusable) where TDelegate : Delegate
    {
        Registry.Add(made, new WrappedJob(function, reusable));
        return made;
    }

    internal static WrappedJob? Of(Delegate callable) => Registry.TryGetValue(callable, out var job) ? job : null;
}

/// <summary>
/// The child's side of a reusable job: answers the first job's arguments, then receives further
/// arguments and answers each, until the parent says quit (or closes the channel). The answer
/// sends the job's result; an exception it throws is sent as that job's error, and the child
/// serves on. Only a broken channel ends the child early.
/// </summary>
internal static class ReusableChild
{
    internal static void Serve<TArgs>(Channel channel, TArgs first, Action<Channel, TArgs> answer)
    {
        var args = first;
        while (true)
        {
            try
            {
                answer(channel, args);
            }
            catch (Exception e) when (e is not IOException && !channel.IsFaulted)
            {
                channel.SendError(e);
            }
            if (!channel.TryReceive(out var next))
            {
                return;
            }
            args = Channel.Cast<TArgs>(next, channel);
        }
    }
}
