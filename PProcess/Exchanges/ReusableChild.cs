namespace PProcess.Exchanges;

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
            if (!channel.TryReceive(out var next, typeof(TArgs)))
            {
                return;
            }
            args = Channel.Cast<TArgs>(next, channel);
        }
    }
}
