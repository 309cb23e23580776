"""Database schema and its migrations, versioned in code.

The database's `PRAGMA user_version` is the number of the last migration
applied; opening a database applies the ones after it, each in its own
transaction, so a fresh file and one from an older version both open.
Migrations are append-only: never edit one that has shipped, add the next.
All times are integers in milliseconds since 1970-01-01 UTC (`*_ms`).
"""

CORE = """
CREATE TABLE organisations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE sites (
    id TEXT PRIMARY KEY,                       -- slug, e.g. mairie-centre
    org_id INTEGER REFERENCES organisations(id),
    name TEXT NOT NULL,
    timezone TEXT NOT NULL DEFAULT 'Europe/Paris',
    hours TEXT NOT NULL DEFAULT '{}',          -- JSON, as in the config message
    buttons INTEGER NOT NULL DEFAULT 4 CHECK (buttons BETWEEN 2 AND 4),
    lockout_s INTEGER NOT NULL DEFAULT 5,
    sync_s INTEGER NOT NULL DEFAULT 30,
    telemetry_s INTEGER NOT NULL DEFAULT 300,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL DEFAULT 0      -- bumped on change: config is republished
);
CREATE TABLE kiosks (
    id TEXT PRIMARY KEY,                       -- device id = MQTT username = client id
    site_id TEXT NOT NULL REFERENCES sites(id),
    secret_hash TEXT NOT NULL,                 -- mosquitto_passwd PBKDF2-SHA512 line part
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER                         -- NULL while the kiosk is trusted
);
CREATE INDEX kiosks_site ON kiosks(site_id);
CREATE TABLE votes (
    device_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    site_id TEXT NOT NULL,                     -- the kiosk's site when the vote arrived
    boot INTEGER NOT NULL,
    t_ms INTEGER NOT NULL,                     -- as sent: UTC, or ms since boot
    utc_ms INTEGER,                            -- NULL while the boot's anchor is unknown
    level INTEGER NOT NULL,
    scale INTEGER NOT NULL,
    flags INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, seq)
) WITHOUT ROWID;
CREATE INDEX votes_site_time ON votes(site_id, utc_ms);
CREATE INDEX votes_pending ON votes(device_id, boot) WHERE utc_ms IS NULL;
CREATE TABLE anchors (
    device_id TEXT NOT NULL,
    boot INTEGER NOT NULL,
    boot_ms INTEGER NOT NULL,
    utc_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, boot)
);
CREATE TABLE kiosk_status (
    device_id TEXT PRIMARY KEY,
    state TEXT,                                -- online / offline, from status and will
    last_seen_ms INTEGER,
    boot INTEGER,
    fw TEXT,
    battery_pct INTEGER,
    battery_mv INTEGER,
    rssi INTEGER,
    journal INTEGER,
    suppressed INTEGER,
    dropped INTEGER,
    uptime_s INTEGER,
    clock TEXT,
    acked_seq INTEGER,
    rejected INTEGER NOT NULL DEFAULT 0,       -- refused messages, all reasons
    last_reject TEXT
);
CREATE TABLE telemetry (
    device_id TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    payload TEXT NOT NULL                      -- the JSON as received
);
CREATE INDEX telemetry_device ON telemetry(device_id, received_ms);
CREATE INDEX telemetry_age ON telemetry(received_ms);   -- pruning old history
CREATE TABLE settings (
    key TEXT PRIMARY KEY,                      -- e.g. server_secret (broker account)
    value TEXT NOT NULL
);
CREATE TABLE rejects (
    id INTEGER PRIMARY KEY,
    device_id TEXT,                            -- from the topic; NULL if unreadable
    topic TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    reason TEXT NOT NULL,
    size INTEGER NOT NULL
);
CREATE INDEX rejects_age ON rejects(received_ms);
"""

SATISFACTION = """
CREATE TABLE rollup_hourly (
    site_id TEXT NOT NULL,
    day TEXT NOT NULL,                         -- local date in the site's time zone
    hour INTEGER NOT NULL,                     -- local hour, 0..23
    source TEXT NOT NULL,                      -- kiosk / qr
    scale INTEGER NOT NULL,                    -- 2..4 levels
    level INTEGER NOT NULL,                    -- 0 (least satisfied) .. scale - 1
    filt INTEGER NOT NULL,                     -- vote flags & 6: 0 counted, else filtered
    n INTEGER NOT NULL,
    PRIMARY KEY (site_id, day, hour, source, scale, level, filt)
) WITHOUT ROWID;
CREATE TABLE rollup_daily (                   -- rollup_hourly summed over the hours
    site_id TEXT NOT NULL,
    day TEXT NOT NULL,
    source TEXT NOT NULL,
    scale INTEGER NOT NULL,
    level INTEGER NOT NULL,
    filt INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (site_id, day, source, scale, level, filt)
) WITHOUT ROWID;
CREATE INDEX rollup_daily_day ON rollup_daily(day, source, site_id, scale, level, filt, n);
CREATE TABLE rollup_changes (
    site_id TEXT PRIMARY KEY,                  -- bumped whenever the site's rollups change
    version INTEGER NOT NULL,
    changed_ms INTEGER NOT NULL
);
CREATE TABLE screen_links (
    id INTEGER PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites(id),
    token_hash TEXT NOT NULL UNIQUE,           -- SHA-256 of the secret; the secret is not kept
    label TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER                         -- NULL while the link opens the screen
);
CREATE TABLE managers (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,               -- pbkdf2_sha256$iterations$salt$hash
    created_ms INTEGER NOT NULL,
    disabled_ms INTEGER
);
CREATE TABLE manager_sessions (
    token_hash TEXT PRIMARY KEY,
    manager_id INTEGER NOT NULL REFERENCES managers(id),
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
"""

FEEDBACK_MYSTERY = """
CREATE TABLE qr_tokens (
    token TEXT PRIMARY KEY,                    -- random, printed in the poster's URL
    site_id TEXT NOT NULL REFERENCES sites(id),
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER                         -- NULL while the form answers
);
CREATE INDEX qr_tokens_site ON qr_tokens(site_id);
CREATE TABLE qr_answers (
    id INTEGER PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites(id),
    token TEXT NOT NULL,
    level INTEGER NOT NULL,                    -- 0 (least satisfied) .. scale - 1
    scale INTEGER NOT NULL CHECK (scale BETWEEN 2 AND 4),
    topics TEXT NOT NULL DEFAULT '',           -- comma-separated topic codes
    comment TEXT NOT NULL DEFAULT '',          -- as typed; masked and escaped when shown
    lang TEXT NOT NULL DEFAULT 'fr',
    created_ms INTEGER NOT NULL,               -- no address, no device identifier
    CHECK (level >= 0 AND level < scale)
);
CREATE INDEX qr_answers_site_time ON qr_answers(site_id, created_ms);
CREATE TABLE qr_rate (
    key TEXT NOT NULL,                         -- SHA-256 of a daily salt and the address
    window_ms INTEGER NOT NULL,                -- start of the hour counted
    count INTEGER NOT NULL,
    PRIMARY KEY (key, window_ms)
) WITHOUT ROWID;
CREATE TABLE mystery_criteria (
    code TEXT PRIMARY KEY,                     -- as in the framework file
    label_fr TEXT NOT NULL,
    label_en TEXT NOT NULL,
    channel TEXT NOT NULL,                     -- a channel, or * for every channel
    step TEXT NOT NULL,
    weight REAL NOT NULL,
    measure TEXT,                              -- rings / wait_seconds / working_days
    target REAL                                -- pass when measure <= target
);
CREATE TABLE mystery_tests (
    id TEXT PRIMARY KEY,                       -- test_id from the file: the identity
    site_id TEXT NOT NULL REFERENCES sites(id),
    at_ms INTEGER NOT NULL,                    -- UTC of the contact
    local_time TEXT NOT NULL,                  -- as in the file, the site's time zone
    channel TEXT NOT NULL,
    step TEXT NOT NULL,
    rings INTEGER,
    wait_seconds INTEGER,
    answer_day TEXT,                           -- YYYY-MM-DD, email and letter answers
    working_days INTEGER,                      -- computed with French public holidays
    auditor TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,                      -- file name and line
    imported_ms INTEGER NOT NULL
);
CREATE INDEX mystery_tests_site ON mystery_tests(site_id, at_ms);
CREATE TABLE mystery_results (
    test_id TEXT NOT NULL REFERENCES mystery_tests(id),
    criterion TEXT NOT NULL,
    result TEXT NOT NULL CHECK (result IN ('pass', 'fail', 'na')),
    PRIMARY KEY (test_id, criterion)
) WITHOUT ROWID;
"""

ABUSE_AND_UNDATABLE = """
-- votes stored that no time in 2000..2100 can be given to: never counted
ALTER TABLE kiosk_status ADD COLUMN undatable INTEGER NOT NULL DEFAULT 0;
CREATE TABLE qr_used_forms (
    form TEXT PRIMARY KEY,                     -- the CSRF field of an answered form
    expires_ms INTEGER NOT NULL                -- kept until the field would expire anyway
) WITHOUT ROWID;
CREATE INDEX qr_used_forms_age ON qr_used_forms(expires_ms);
DROP TABLE qr_rate;
CREATE TABLE qr_address_budget (
    key TEXT PRIMARY KEY,                      -- SHA-256 of a daily salt and the address
    tokens REAL NOT NULL,                      -- answers the address may still send now
    updated_ms INTEGER NOT NULL,
    refused INTEGER NOT NULL DEFAULT 0,        -- posts refused while out of budget
    blocked_until_ms INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
"""

# A site closed or merged away: its history stays, it leaves the rankings.
ARCHIVE = """
ALTER TABLE sites ADD COLUMN archived_ms INTEGER;  -- NULL while the site is in service
"""

API_TOKENS = """
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,           -- SHA-256 of the token, shown once at creation
    scope TEXT NOT NULL CHECK (scope IN ('read', 'admin')),
    label TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER                         -- NULL while the token is accepted
);
"""

# Public consultations: a question asked on the kiosks (2 to 4 answers) and on
# phones (up to 8). A kiosk answer keeps its vote identity (device_id, seq):
# a seq is stored once, in votes or here, never both.
CONSULTATIONS = """
CREATE TABLE consultations (
    id INTEGER PRIMARY KEY,                    -- the campaign number on the wire (1..65535)
    token TEXT NOT NULL UNIQUE,                -- random, the phone page /c/{token}
    title_fr TEXT NOT NULL,
    title_en TEXT NOT NULL,
    question_fr TEXT NOT NULL,
    question_en TEXT NOT NULL,
    answers TEXT NOT NULL,                     -- JSON list of {"fr": ..., "en": ...}, 2..8
    kiosk_answers INTEGER NOT NULL DEFAULT 0,  -- the first N answers are on the kiosk card; 0: phone only
    opens_ms INTEGER NOT NULL,
    closes_ms INTEGER NOT NULL,
    ideas INTEGER NOT NULL DEFAULT 0,          -- 1: citizens may propose an idea
    live_results INTEGER NOT NULL DEFAULT 0,   -- 1: results public while open
    state TEXT NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'open', 'closed', 'archived')),
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    CHECK (kiosk_answers = 0 OR kiosk_answers BETWEEN 2 AND 4),
    CHECK (closes_ms > opens_ms)
);
CREATE TABLE consultation_sites (
    consultation_id INTEGER NOT NULL REFERENCES consultations(id),
    site_id TEXT NOT NULL REFERENCES sites(id),
    PRIMARY KEY (consultation_id, site_id)
) WITHOUT ROWID;
CREATE INDEX consultation_sites_site ON consultation_sites(site_id);
CREATE TABLE consultation_answers (
    id INTEGER PRIMARY KEY,
    consultation_id INTEGER NOT NULL REFERENCES consultations(id),
    site_id TEXT NOT NULL,                     -- kiosk: its site when the answer arrived
    channel TEXT NOT NULL CHECK (channel IN ('kiosk', 'phone')),
    answer INTEGER NOT NULL,                   -- index into the consultation's answers
    utc_ms INTEGER,                            -- kiosk: NULL while the boot's anchor is unknown
    device_id TEXT,                            -- kiosk only: the vote identity
    seq INTEGER,
    boot INTEGER,
    t_ms INTEGER,                              -- kiosk: as sent, UTC or ms since boot
    flags INTEGER NOT NULL DEFAULT 0,          -- kiosk: as on votes (burst, lockout, undatable)
    received_ms INTEGER NOT NULL,              -- no address, no phone identifier
    UNIQUE (device_id, seq)
);
CREATE INDEX consultation_answers_time ON consultation_answers(consultation_id, site_id, utc_ms);
CREATE INDEX consultation_answers_pending ON consultation_answers(device_id, boot) WHERE utc_ms IS NULL;
CREATE TABLE consultation_ideas (
    id INTEGER PRIMARY KEY,
    consultation_id INTEGER NOT NULL REFERENCES consultations(id),
    site_id TEXT,                              -- where it was proposed, if known
    text TEXT NOT NULL,                        -- as typed; masked when shown
    lang TEXT NOT NULL DEFAULT 'fr',
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'rejected')),
    reason TEXT NOT NULL DEFAULT '',           -- the moderator's, when rejected
    supports INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    moderated_ms INTEGER
);
CREATE INDEX consultation_ideas_state ON consultation_ideas(consultation_id, state);
"""

FIRMWARE_UPDATES = """
CREATE TABLE fw_releases (
    id TEXT PRIMARY KEY,                       -- first 16 hex digits of the manifest's SHA-256
    fw TEXT NOT NULL,                          -- firmware version
    manifest BLOB NOT NULL,                    -- the signed bytes
    sig BLOB NOT NULL,                         -- Ed25519 signature
    key BLOB NOT NULL,                         -- the public key it verifies with
    image BLOB NOT NULL,                       -- every file, in the manifest's order
    added_ms INTEGER NOT NULL
);
CREATE TABLE fw_rollouts (
    id INTEGER PRIMARY KEY,
    release_id TEXT NOT NULL REFERENCES fw_releases(id),
    cohort TEXT NOT NULL,                      -- how it was chosen, as given
    max_failed REAL NOT NULL,                  -- stopped when the failed share passes it
    boots INTEGER NOT NULL,                    -- boots the new firmware has to report healthy
    trial_s INTEGER NOT NULL,                  -- seconds from a boot to report healthy
    state TEXT NOT NULL CHECK (state IN ('active', 'stopped')),
    reason TEXT NOT NULL DEFAULT '',           -- why it stopped
    created_ms INTEGER NOT NULL,
    stopped_ms INTEGER
);
CREATE TABLE fw_rollout_kiosks (               -- the cohort, fixed when the rollout starts
    rollout_id INTEGER NOT NULL REFERENCES fw_rollouts(id),
    device_id TEXT NOT NULL REFERENCES kiosks(id),
    PRIMARY KEY (rollout_id, device_id)
);
CREATE TABLE fw_kiosk_updates (                -- each kiosk's last `update` report
    device_id TEXT PRIMARY KEY REFERENCES kiosks(id),
    fw TEXT NOT NULL,
    state TEXT NOT NULL,
    release_id TEXT,
    got INTEGER NOT NULL DEFAULT 0,
    size INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    updated_ms INTEGER NOT NULL
);
"""

# (version, name, SQL script). Append only.
MIGRATIONS = [
    (1, "core: sites, kiosks, votes, anchors, kiosk health", CORE),
    (2, "citizen QR feedback and mystery surveys", FEEDBACK_MYSTERY),
    (3, "satisfaction: rollups, screen links, managers", SATISFACTION),
    (4, "undatable votes counted per kiosk; single-use QR forms, per-address budgets",
     ABUSE_AND_UNDATABLE),
    (5, "archived sites", ARCHIVE),
    (6, "API tokens", API_TOKENS),
    (7, "public consultations: questions, answers by kiosk and phone, ideas", CONSULTATIONS),
    (8, "firmware updates over the air: releases, rollouts, kiosks' update states",
     FIRMWARE_UPDATES),
]
