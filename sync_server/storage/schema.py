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
    kiosk_answers INTEGER NOT NULL DEFAULT 0,  -- first N answers on the kiosk card; 0: phone only
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
CREATE INDEX consultation_answers_pending ON consultation_answers(device_id, boot)
    WHERE utc_ms IS NULL;
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

# The agents' voice: internal polls answered through a team link per site,
# and the staff idea box. Nothing here names an agent, an address or a
# device: response and text ids are random (the storage order says nothing of
# the answering order), times are days, and device hashes of a poll are
# deleted when it closes.
STAFF_VOICE = """
CREATE TABLE team_links (                     -- like screen_links: the agents' pages of one site
    id INTEGER PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites(id),
    token_hash TEXT NOT NULL UNIQUE,           -- SHA-256 of the secret; the secret is not kept
    label TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER                         -- NULL while the link opens the team pages
);
CREATE TABLE polls (
    id INTEGER PRIMARY KEY,
    title_fr TEXT NOT NULL,
    title_en TEXT NOT NULL,
    questions TEXT NOT NULL,                   -- JSON list, see sync_server/polls/questions.py
    opens_day TEXT NOT NULL,                   -- YYYY-MM-DD, first day answers are taken
    closes_day TEXT NOT NULL,                  -- last day answers are taken
    state TEXT NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'open', 'closed')),
    created_ms INTEGER NOT NULL,
    CHECK (closes_day >= opens_day)
);
CREATE TABLE poll_sites (
    poll_id INTEGER NOT NULL REFERENCES polls(id),
    site_id TEXT NOT NULL REFERENCES sites(id),
    PRIMARY KEY (poll_id, site_id)
) WITHOUT ROWID;
CREATE TABLE poll_responses (
    id INTEGER PRIMARY KEY,                    -- random, not in answering order
    poll_id INTEGER NOT NULL REFERENCES polls(id),
    site_id TEXT NOT NULL,
    day TEXT NOT NULL,                         -- the site's local day: no finer time
    answers TEXT NOT NULL                      -- JSON {question index: value}, scale and choice
);
CREATE INDEX poll_responses_poll ON poll_responses(poll_id, site_id);
CREATE TABLE poll_texts (                      -- free answers, apart from the other answers
    id INTEGER PRIMARY KEY,                    -- random
    poll_id INTEGER NOT NULL REFERENCES polls(id),
    site_id TEXT NOT NULL,
    question INTEGER NOT NULL,
    text TEXT NOT NULL,                        -- as typed; masked when shown
    lang TEXT NOT NULL DEFAULT 'fr',
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'rejected'))
);
CREATE INDEX poll_texts_poll ON poll_texts(poll_id, state);
CREATE TABLE poll_devices (
    poll_id INTEGER NOT NULL,
    device TEXT NOT NULL,                      -- SHA-256 of the poll and a random cookie
    PRIMARY KEY (poll_id, device)              -- deleted when the poll closes
) WITHOUT ROWID;
CREATE TABLE staff_ideas (
    id INTEGER PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites(id),
    text TEXT NOT NULL,                        -- as typed; masked when shown
    lang TEXT NOT NULL DEFAULT 'fr',
    day TEXT NOT NULL,
    moderation TEXT NOT NULL DEFAULT 'pending'
        CHECK (moderation IN ('pending', 'approved', 'rejected')),
    status TEXT NOT NULL DEFAULT 'new'
        CHECK (status IN ('new', 'under_study', 'planned', 'done', 'not_retained')),
    reason TEXT NOT NULL DEFAULT '',           -- the manager's answer
    answered_day TEXT,
    supports INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX staff_ideas_site ON staff_ideas(site_id, moderation);
CREATE TABLE staff_idea_supports (
    idea_id INTEGER NOT NULL REFERENCES staff_ideas(id),
    device TEXT NOT NULL,                      -- SHA-256 of the idea and a random cookie
    PRIMARY KEY (idea_id, device)
) WITHOUT ROWID;
"""

# Alerts: rules per scope, one live alert per (site, kiosk, kind), and the
# messages that carry them (e-mail, webhooks), retried until sent.
ALERTS = """
CREATE TABLE alert_rules (
    scope TEXT NOT NULL,                       -- '*' every site, 'org:ID' or 'site:ID'
    kind TEXT NOT NULL,                        -- a rule (spike, offline...), 'quiet' or 'notify'
    params TEXT NOT NULL,                      -- JSON: the values that replace the defaults
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (scope, kind)
) WITHOUT ROWID;
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    site_id TEXT NOT NULL,
    device_id TEXT NOT NULL DEFAULT '',        -- '' for a rule about the whole site
    kind TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
    detail TEXT NOT NULL DEFAULT '{}',         -- JSON: the figures that raised it, last seen
    opened_ms INTEGER NOT NULL,
    seen_ms INTEGER NOT NULL,                  -- last evaluation that found the condition
    acknowledged_ms INTEGER,
    acknowledged_by TEXT,
    resolved_ms INTEGER
);
CREATE UNIQUE INDEX alerts_live ON alerts(site_id, device_id, kind) WHERE state != 'resolved';
CREATE INDEX alerts_site ON alerts(site_id, state);
CREATE TABLE alert_deliveries (
    id INTEGER PRIMARY KEY,
    alert_id INTEGER REFERENCES alerts(id),    -- NULL for a test message
    event TEXT NOT NULL,                       -- opened / resolved / test
    channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
    target TEXT NOT NULL,                      -- an address or a URL
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'sent', 'failed', 'skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms INTEGER NOT NULL,                  -- not before (backoff, end of quiet hours)
    last_error TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    sent_ms INTEGER
);
CREATE INDEX alert_deliveries_due ON alert_deliveries(next_ms) WHERE state = 'pending';
CREATE INDEX alert_deliveries_alert ON alert_deliveries(alert_id);
"""

# Kiosk answers whose campaign names no consultation (deleted, or a kiosk's
# stale config): kept whole and acknowledged, so the kiosk's queue moves on
# and nothing accepted is lost; counted per kiosk; never in any figure.
UNKNOWN_CAMPAIGNS = """
CREATE TABLE kiosk_answers_unknown (
    device_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    campaign INTEGER NOT NULL,                 -- as sent, no consultation has it
    site_id TEXT NOT NULL,
    boot INTEGER NOT NULL,
    t_ms INTEGER NOT NULL,
    utc_ms INTEGER,
    answer INTEGER NOT NULL,
    scale INTEGER NOT NULL,
    flags INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, seq)
) WITHOUT ROWID;
ALTER TABLE kiosk_status ADD COLUMN unknown_campaign INTEGER NOT NULL DEFAULT 0;
"""

# Organisations (town hall, community of municipalities, departmental
# council, library...): each site belongs to one; a manager account sees one
# organisation's sites, an operator account every site. Accounts made before
# this migration saw every site: they become operators, so that an upgrade
# takes nothing away from anyone (README, "Who may use what").
ORGANISATIONS = """
ALTER TABLE organisations ADD COLUMN kind TEXT NOT NULL DEFAULT 'other'
    CHECK (kind IN ('commune', 'community', 'department', 'library', 'other'));
ALTER TABLE organisations ADD COLUMN population INTEGER;  -- communes: legal population
ALTER TABLE organisations ADD COLUMN created_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE managers ADD COLUMN role TEXT NOT NULL DEFAULT 'operator'
    CHECK (role IN ('operator', 'manager'));
ALTER TABLE managers ADD COLUMN org_id INTEGER REFERENCES organisations(id);  -- role manager
CREATE INDEX sites_org ON sites(org_id);
"""

# The yearly barometer: editions, the organisations registered, their scores
# per channel, journey step and overall, and the trophies with their evidence
# (METHOD.md, "The barometer").
BAROMETER = """
CREATE TABLE barometer_editions (
    year INTEGER PRIMARY KEY,
    registration_deadline TEXT NOT NULL,       -- YYYY-MM-DD: 31 December of the year
    test_from TEXT NOT NULL,                   -- YYYY-MM-DD, local days of the sites
    test_to TEXT NOT NULL,
    computed_ms INTEGER,                       -- NULL until `borne barometer compute`
    created_ms INTEGER NOT NULL
);
CREATE TABLE barometer_registrations (
    year INTEGER NOT NULL REFERENCES barometer_editions(year),
    org_id INTEGER NOT NULL REFERENCES organisations(id),
    registered_ms INTEGER NOT NULL,
    PRIMARY KEY (year, org_id)
) WITHOUT ROWID;
CREATE TABLE barometer_scores (
    year INTEGER NOT NULL REFERENCES barometer_editions(year),
    org_id INTEGER NOT NULL REFERENCES organisations(id),
    dimension TEXT NOT NULL,                   -- composite, channel:<c>, step:<s>
    score REAL,                                -- 0..100, NULL when too little data
    n INTEGER NOT NULL,                        -- checks or responses behind it
    PRIMARY KEY (year, org_id, dimension)
) WITHOUT ROWID;
CREATE TABLE barometer_results (
    year INTEGER NOT NULL REFERENCES barometer_editions(year),
    org_id INTEGER NOT NULL REFERENCES organisations(id),
    category TEXT NOT NULL,                    -- kind, with the band of a commune
    tests INTEGER NOT NULL,                    -- mystery tests in the test period
    eligible INTEGER NOT NULL,                 -- 1: may receive a trophy
    rank INTEGER,                              -- in its category, ties share a rank
    progress REAL,                             -- composite minus the previous edition's
    PRIMARY KEY (year, org_id)
) WITHOUT ROWID;
CREATE TABLE barometer_awards (
    year INTEGER NOT NULL REFERENCES barometer_editions(year),
    award TEXT NOT NULL,                       -- e.g. category:commune/2000-9999, channel:phone
    org_id INTEGER NOT NULL REFERENCES organisations(id),
    score REAL NOT NULL,
    evidence TEXT NOT NULL,                    -- JSON: the rule, the figures, the runners-up
    PRIMARY KEY (year, award, org_id)
) WITHOUT ROWID;
"""

# Firmware over the air: signed releases, their rollouts to cohorts of
# kiosks, and each kiosk's update state (docs/UPDATES.md).
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
    (8, "the agents' voice: team links, internal polls, staff ideas", STAFF_VOICE),
    (9, "alerts: rules, alerts and their deliveries", ALERTS),
    (10, "kiosk answers to an unknown campaign, kept and counted", UNKNOWN_CAMPAIGNS),
    (11, "organisations: kind and population; managers scoped to one, operators to all",
     ORGANISATIONS),
    (12, "the barometer: editions, registrations, scores, trophies", BAROMETER),
    (13, "firmware updates over the air: releases, rollouts, kiosks' update states",
     FIRMWARE_UPDATES),
]
