using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;

namespace PProcess.WebExample;

/// <summary>A slice of the user list to render: rows with ids in [Start, End), and the cost of rendering each.</summary>
public readonly record struct RowRange(int Start, int End, int Cost);

/// <summary>
/// The example's data: a SQLite table of users, and the list view's rendering of a range of them.
/// The rendering is the same function in the sequential path and in the pool's workers, so their
/// pages must be equal.
/// </summary>
public static class UserTable
{
    /// <summary>Creates (or recreates) the database at <paramref name="path"/> with <paramref name="rows"/> users.</summary>
    public static void Create(string path, int rows)
    {
        File.Delete(path);
        using var db = new SqliteConnection($"Data Source={path}");
        db.Open();
        using (var create = db.CreateCommand())
        {
            create.CommandText = "CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL, email TEXT NOT NULL, joined TEXT NOT NULL)";
            create.ExecuteNonQuery();
        }
        using var tx = db.BeginTransaction();
        using var insert = db.CreateCommand();
        insert.CommandText = "INSERT INTO users (id, username, email, joined) VALUES ($id, $u, $e, $j)";
        var id = insert.Parameters.Add("$id", SqliteType.Integer);
        var u = insert.Parameters.Add("$u", SqliteType.Text);
        var e = insert.Parameters.Add("$e", SqliteType.Text);
        var j = insert.Parameters.Add("$j", SqliteType.Text);
        for (int i = 0; i < rows; i++)
        {
            id.Value = i;
            u.Value = $"user{i:D5}<&>";
            e.Value = $"user{i}@example.org";
            j.Value = new DateTime(2020, 1, 1).AddHours(i * 7).ToString("yyyy-MM-dd HH:mm");
            insert.ExecuteNonQuery();
        }
        tx.Commit();
    }

    /// <summary>Opens a read-only connection: what each pool worker keeps for its whole life.</summary>
    public static SqliteConnection Open(string path)
    {
        var db = new SqliteConnection($"Data Source={path};Mode=ReadOnly");
        db.Open();
        return db;
    }

    /// <summary>The number of users.</summary>
    public static int Count(SqliteConnection db)
    {
        using var count = db.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM users";
        return Convert.ToInt32(count.ExecuteScalar());
    }

    /// <summary>Splits [0, count) into <paramref name="parts"/> ranges (multicore's <c>ranges</c>).</summary>
    public static RowRange[] Ranges(int count, int parts, int cost)
    {
        parts = Math.Max(1, Math.Min(parts, count));
        return Enumerable.Range(0, parts).Select(p => new RowRange(count * p / parts, count * (p + 1) / parts, cost)).ToArray();
    }

    /// <summary>
    /// Renders users with ids in the range as table rows. Each row's "avatar" is a hash iterated
    /// <see cref="RowRange.Cost"/> times: the CPU work a real serializer or template would do.
    /// </summary>
    public static string Render(SqliteConnection db, RowRange range)
    {
        using var select = db.CreateCommand();
        select.CommandText = "SELECT id, username, email, joined FROM users WHERE id >= $s AND id < $e ORDER BY id";
        select.Parameters.AddWithValue("$s", range.Start);
        select.Parameters.AddWithValue("$e", range.End);
        using var reader = select.ExecuteReader();
        var html = new StringBuilder();
        Span<byte> hash = stackalloc byte[32];
        while (reader.Read())
        {
            string name = reader.GetString(1);
            Encoding.UTF8.GetBytes(name.PadRight(32).AsSpan(0, 32), hash);
            for (int k = 0; k < range.Cost; k++)
            {
                SHA256.HashData(hash, hash);
            }
            html.Append("<tr><td>").Append(reader.GetInt32(0))
                .Append("</td><td>").Append(WebUtility.HtmlEncode(name))
                .Append("</td><td>").Append(WebUtility.HtmlEncode(reader.GetString(2)))
                .Append("</td><td>").Append(reader.GetString(3))
                .Append("</td><td>").Append(Convert.ToHexString(hash[..6]))
                .Append("</td></tr>\n");
        }
        return html.ToString();
    }

    /// <summary>The pool's job: render a range with the worker's own connection.</summary>
    public static string RenderInWorker(SqliteConnection db, RowRange range) => Render(db, range);

    /// <summary>The whole page around the rendered rows.</summary>
    public static string Page(IEnumerable<string> rows) =>
        "<table>\n<tr><th>id</th><th>username</th><th>email</th><th>joined</th><th>avatar</th></tr>\n" + string.Concat(rows) + "</table>\n";
}
