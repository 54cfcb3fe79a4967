namespace OptOutRegistry.Storage.Sqlite;

/// <summary>
/// Versioned migrations, applied in order inside one transaction each; the version is SQLite's
/// <c>PRAGMA user_version</c>, so an existing data directory is upgraded in place. Never edit a published step:
/// add a new one.
/// </summary>
internal static class SqliteSchema
{
    public static readonly string[] Migrations =
    [
        // v1: the log, holders, reservations, search.
        """
        CREATE TABLE log_head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            size INTEGER NOT NULL,
            last_time_us INTEGER NOT NULL,
            frontier BLOB NOT NULL);
        INSERT INTO log_head (id, size, last_time_us, frontier) VALUES (1, 0, 0, x'');
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
            time_us INTEGER NOT NULL,
            actor TEXT NOT NULL,
            type TEXT NOT NULL,
            payload BLOB NOT NULL,
            leaf_hash BLOB NOT NULL);
        -- Complete Merkle subtrees of level >= 1, keyed by (level << 56 | index); level 0 is events.leaf_hash.
        CREATE TABLE merkle_nodes (node_id INTEGER PRIMARY KEY, hash BLOB NOT NULL);
        CREATE TABLE holders (
            id TEXT PRIMARY KEY,
            display_name TEXT NOT NULL,
            contact_email TEXT,
            created_us INTEGER NOT NULL,
            created_seq INTEGER NOT NULL);
        CREATE TABLE api_keys (
            key_id TEXT PRIMARY KEY,
            holder_id TEXT NOT NULL,
            key_hash BLOB NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            label TEXT,
            created_us INTEGER NOT NULL,
            revoked_us INTEGER);
        CREATE INDEX api_keys_by_holder ON api_keys (holder_id);
        CREATE TABLE verified_hosts (
            holder_id TEXT NOT NULL,
            host TEXT NOT NULL,
            method TEXT NOT NULL,
            verified_us INTEGER NOT NULL,
            PRIMARY KEY (holder_id, host));
        -- created_seq is the rowid: bulk import appends at the right edge of the table b-tree.
        CREATE TABLE reservations (
            created_seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            holder_id TEXT NOT NULL,
            state INTEGER NOT NULL,
            state_changed_us INTEGER NOT NULL,
            registered_us INTEGER NOT NULL,
            valid_from_us INTEGER NOT NULL,
            valid_until_us INTEGER,
            title TEXT,
            creators TEXT NOT NULL,
            identifiers TEXT NOT NULL,
            language TEXT,
            holder_name TEXT,
            payload BLOB NOT NULL,
            last_seq INTEGER NOT NULL);
        CREATE INDEX reservations_by_holder ON reservations (holder_id, created_seq);
        CREATE TABLE reservation_states (
            reservation_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            state INTEGER NOT NULL,
            at_us INTEGER NOT NULL,
            PRIMARY KEY (reservation_id, seq)) WITHOUT ROWID;
        -- Text is normalised by SearchText before it gets here; unicode61 with remove_diacritics 2 is a second net.
        -- Contentless (the text lives in reservations already) with contentless_delete (SQLite 3.43+) so amendments
        -- can replace a row by rowid.
        CREATE VIRTUAL TABLE works_fts USING fts5(
            title, creators, identifiers, holder_name, content = '', contentless_delete = 1,
            tokenize = 'unicode61 remove_diacritics 2');
        """,

        // v2: idempotent imports and pending host-verification challenges.
        """
        CREATE TABLE idempotency_keys (
            holder_id TEXT NOT NULL,
            idem_key TEXT NOT NULL,
            result_id TEXT NOT NULL,
            created_us INTEGER NOT NULL,
            PRIMARY KEY (holder_id, idem_key)) WITHOUT ROWID;
        CREATE TABLE verification_challenges (
            holder_id TEXT NOT NULL,
            host TEXT NOT NULL,
            token TEXT NOT NULL,
            created_us INTEGER NOT NULL,
            expires_us INTEGER NOT NULL,
            PRIMARY KEY (holder_id, host)) WITHOUT ROWID;
        """,

        // v3: full-text search moves out of the append transaction into search.db (SqliteSearchIndex), which follows
        // the event sequence and is rebuilt from the reservations on first start. An amendment changes the text of an
        // older row; it queues that row here, in its own transaction, for the index to pick up.
        """
        CREATE TABLE search_pending (
            seq INTEGER NOT NULL,
            created_seq INTEGER NOT NULL,
            PRIMARY KEY (seq, created_seq)) WITHOUT ROWID;
        DROP TABLE works_fts;
        """,
    ];

    public const string InsertReservation =
        "INSERT INTO reservations (id, holder_id, state, state_changed_us, registered_us, valid_from_us, valid_until_us, title, creators, identifiers, language, holder_name, payload, created_seq, last_seq) "
        + "VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8, @p9, @p10, @p11, @p12, @p13, @p14) ON CONFLICT (id) DO NOTHING";

    /// <summary>Queues an amended reservation (@p1 its created_seq) for re-indexing at event @p0.</summary>
    public const string QueueReindex = "INSERT OR IGNORE INTO search_pending (seq, created_seq) VALUES (@p0, @p1)";

    public const string UpdateReservation =
        "UPDATE reservations SET holder_id = @p1, state = @p2, state_changed_us = @p3, registered_us = @p4, valid_from_us = @p5, valid_until_us = @p6, "
        + "title = @p7, creators = @p8, identifiers = @p9, language = @p10, holder_name = @p11, payload = @p12, last_seq = @p14 WHERE id = @p0";
}
