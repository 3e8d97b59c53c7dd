-- A counter of changes to the tokens table. Servers keep verified tokens in memory (argon2 is
-- slow) and drop that cache when the counter moves, so that a token revoked by any process (the
-- `lagesbild token revoke` command, another server, an operator's SQL) stops working within a
-- fraction of a second. The triggers bump it inside the statement's own transaction.

INSERT INTO meta (key, value) VALUES ('token_generation', '0');

CREATE TRIGGER tokens_generation_insert AFTER INSERT ON tokens
BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'token_generation';
END;

CREATE TRIGGER tokens_generation_update AFTER UPDATE ON tokens
BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'token_generation';
END;

CREATE TRIGGER tokens_generation_delete AFTER DELETE ON tokens
BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'token_generation';
END;
