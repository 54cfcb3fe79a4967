namespace OptOutRegistry.Storage.Postgres;

/// <summary>
/// Versioned migrations for PostgreSQL, recorded in <c>schema_migrations</c> and applied under an advisory lock so
/// several server processes starting together migrate once. Same tables and meaning as the SQLite schema; search
/// uses a weighted <c>tsvector</c> with the <c>simple</c> configuration over text already normalised by
/// <see cref="SearchText"/> (so no dependency on the unaccent extension).
/// </summary>
internal static class PostgresSchema
{
    /// <summary>Advisory lock key for migrations ("optout-m" as ASCII).</summary>
    public const long MigrationLockKey = 0x6f70746f75742d6d;

    public const string NotifyChannel = "optout_registry_events";

    public static readonly string[] Migrations =
    [
        """
        CREATE TABLE log_head (
            id integer PRIMARY KEY CHECK (id = 1),
            size bigint NOT NULL,
            last_time_us bigint NOT NULL,
            frontier bytea NOT NULL);
        INSERT INTO log_head (id, size, last_time_us, frontier) VALUES (1, 0, 0, '\x');
        CREATE TABLE events (
            seq bigint PRIMARY KEY,
            time_us bigint NOT NULL,
            actor text NOT NULL,
            type text NOT NULL,
            payload bytea NOT NULL,
            leaf_hash bytea NOT NULL);
        CREATE TABLE merkle_nodes (node_id bigint PRIMARY KEY, hash bytea NOT NULL);
        CREATE TABLE holders (
            id text PRIMARY KEY,
            display_name text NOT NULL,
            contact_email text,
            created_us bigint NOT NULL,
            created_seq bigint NOT NULL);
        CREATE TABLE api_keys (
            key_id text PRIMARY KEY,
            holder_id text NOT NULL,
            key_hash bytea NOT NULL UNIQUE,
            prefix text NOT NULL,
            label text,
            created_us bigint NOT NULL,
            revoked_us bigint);
        CREATE INDEX api_keys_by_holder ON api_keys (holder_id);
        CREATE TABLE verified_hosts (
            holder_id text NOT NULL,
            host text NOT NULL,
            method text NOT NULL,
            verified_us bigint NOT NULL,
            PRIMARY KEY (holder_id, host));
        CREATE TABLE reservations (
            id text PRIMARY KEY,
            holder_id text NOT NULL,
            state bigint NOT NULL,
            state_changed_us bigint NOT NULL,
            registered_us bigint NOT NULL,
            valid_from_us bigint NOT NULL,
            valid_until_us bigint,
            title text,
            creators text NOT NULL,
            identifiers text NOT NULL,
            language text,
            holder_name text,
            payload bytea NOT NULL,
            created_seq bigint NOT NULL UNIQUE,
            last_seq bigint NOT NULL,
            search tsvector NOT NULL);
        CREATE INDEX reservations_by_holder ON reservations (holder_id, created_seq);
        CREATE INDEX reservations_search ON reservations USING gin (search);
        CREATE TABLE reservation_states (
            reservation_id text NOT NULL,
            seq bigint NOT NULL,
            state bigint NOT NULL,
            at_us bigint NOT NULL,
            PRIMARY KEY (reservation_id, seq));
        """,
        """
        CREATE TABLE idempotency_keys (
            holder_id text NOT NULL,
            idem_key text NOT NULL,
            result_id text NOT NULL,
            created_us bigint NOT NULL,
            PRIMARY KEY (holder_id, idem_key));
        CREATE TABLE verification_challenges (
            holder_id text NOT NULL,
            host text NOT NULL,
            token text NOT NULL,
            created_us bigint NOT NULL,
            expires_us bigint NOT NULL,
            PRIMARY KEY (holder_id, host));
        """,
        // GIN's fast-update pending list is scanned linearly by every search until a vacuum or an insert past the limit
        // merges it into the index. At the default 4 MB a search right after a bulk import cost 2-3.7 ms of server CPU
        // (200 k / 1 M works) instead of ~0.2 ms; 256 kB bounds that scan, and the bulk import merges more often
        // (+6 % server CPU per imported row measured, within noise). Only the reloption changes: no rewrite.
        """
        ALTER INDEX reservations_search SET (gin_pending_list_limit = 256);
        """,
    ];

    // Weights: A title, B creators, C identifiers, D holder display name (ts_rank's defaults 1.0/0.4/0.2/0.1).
    private const string SearchVector =
        "setweight(to_tsvector('simple', @p15), 'A') || setweight(to_tsvector('simple', @p16), 'B') || "
        + "setweight(to_tsvector('simple', @p17), 'C') || setweight(to_tsvector('simple', @p18), 'D')";

    public const string ReservationInsertColumns =
        "id, holder_id, state, state_changed_us, registered_us, valid_from_us, valid_until_us, title, creators, identifiers, language, holder_name, payload, created_seq, last_seq, search";

    /// <summary>One VALUES tuple of a multi-row reservation insert, parameters from @p{first} on (19 of them).</summary>
    public static string ReservationRowTuple(int first)
    {
        var b = new System.Text.StringBuilder("(");
        for (var i = 0; i < 15; i++)
        {
            b.Append("@p").Append(first + i).Append(", ");
        }

        return b.Append("setweight(to_tsvector('simple', @p").Append(first + 15).Append("), 'A') || setweight(to_tsvector('simple', @p")
            .Append(first + 16).Append("), 'B') || setweight(to_tsvector('simple', @p").Append(first + 17)
            .Append("), 'C') || setweight(to_tsvector('simple', @p").Append(first + 18).Append("), 'D'))").ToString();
    }

    public const string InsertReservation =
        "INSERT INTO reservations (id, holder_id, state, state_changed_us, registered_us, valid_from_us, valid_until_us, title, creators, identifiers, language, holder_name, payload, created_seq, last_seq, search) "
        + "VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8, @p9, @p10, @p11, @p12, @p13, @p14, " + SearchVector + ") ON CONFLICT (id) DO NOTHING";

    public const string UpdateReservation =
        "UPDATE reservations SET holder_id = @p1, state = @p2, state_changed_us = @p3, registered_us = @p4, valid_from_us = @p5, valid_until_us = @p6, "
        + "title = @p7, creators = @p8, identifiers = @p9, language = @p10, holder_name = @p11, payload = @p12, last_seq = @p14, search = " + SearchVector
        + " WHERE id = @p0 AND created_seq = @p13";
}
