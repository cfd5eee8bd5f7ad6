-- API keys made, rotated and revoked through the API (POST/DELETE /api/v1/keys), and the
-- revocations of keys listed in the config file. Only the SHA-256 of a token is kept. Each change
-- is a new row of the key's id with a higher version; FINAL reads the latest.
CREATE TABLE IF NOT EXISTS api_keys (
    id          String,
    version     UInt64,
    source      LowCardinality(String),
    name        String,
    role        LowCardinality(String),
    units       Array(String),
    hash        String,
    created     DateTime('UTC'),
    created_by  String,
    expires     DateTime('UTC'),
    revoked     DateTime('UTC'),
    revoked_by  String
) ENGINE = ReplacingMergeTree(version)
ORDER BY id;
