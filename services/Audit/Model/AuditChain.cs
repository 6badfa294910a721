using System.Security.Cryptography;

namespace SecurePlatform.Audit.Model;

/// <summary>The hash chain: each row's hash covers its canonical content and its predecessor's hash.</summary>
public static class AuditChain
{
    public const int HashLength = 32;

    /// <summary>The "previous hash" of the first row.</summary>
    public static byte[] Genesis => new byte[HashLength];

    public static byte[] ComputeHash(AuditEvent row) => SHA256.HashData(AuditCanonicalForm.Serialize(row));

    /// <summary>Sets <paramref name="row"/>'s sequence, predecessor hash and hash so that it follows <paramref name="previous"/>.</summary>
    public static void Link(AuditEvent row, ChainHead previous)
    {
        row.Sequence = previous.Sequence + 1;
        row.PrevHash = previous.Hash;
        row.Hash = ComputeHash(row);
    }
}

/// <summary>The last row of the chain (sequence 0 and the genesis hash for an empty log).</summary>
public sealed record ChainHead(long Sequence, byte[] Hash)
{
    public static ChainHead Empty { get; } = new(0, AuditChain.Genesis);
}

public static class ChainBreakReasons
{
    /// <summary>The row's content no longer matches its own hash (the row was altered).</summary>
    public const string HashMismatch = "hash_mismatch";

    /// <summary>The row's stored predecessor hash is not the hash of the row before it (a row was altered, replaced or re-linked).</summary>
    public const string PrevHashMismatch = "prev_hash_mismatch";

    /// <summary>Sequence numbers are not contiguous (rows were removed).</summary>
    public const string SequenceGap = "sequence_gap";
}

public sealed record ChainBreak(long Sequence, Guid EventId, string Reason);

/// <summary>
/// Walks rows in sequence order and reports the first broken link. Feed it rows with <see cref="Check"/>;
/// start it from the row before the range (or <see cref="ChainHead.Empty"/> to start at the beginning).
/// </summary>
public sealed class ChainVerifier(ChainHead start)
{
    private ChainHead _previous = start;

    public long Verified { get; private set; }

    public ChainBreak? Check(AuditEvent row)
    {
        if (row.Sequence != _previous.Sequence + 1)
        {
            return new ChainBreak(row.Sequence, row.EventId, ChainBreakReasons.SequenceGap);
        }
        if (!CryptographicOperations.FixedTimeEquals(row.PrevHash, _previous.Hash))
        {
            return new ChainBreak(row.Sequence, row.EventId, ChainBreakReasons.PrevHashMismatch);
        }
        if (!CryptographicOperations.FixedTimeEquals(AuditChain.ComputeHash(row), row.Hash))
        {
            return new ChainBreak(row.Sequence, row.EventId, ChainBreakReasons.HashMismatch);
        }
        _previous = new ChainHead(row.Sequence, row.Hash);
        Verified++;
        return null;
    }
}
