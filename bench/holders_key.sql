-- The holders' key at 1M and 10M: the unique B-tree the schema has against a hash index behind an exclusion
-- constraint (the candidate that would keep uniqueness with a smaller, descent-free index), on a reduced copy
-- of holders (id, the keyed hash as bytes, name; a SHA-256 stands for the HMAC), each insert after a
-- CHECKPOINT, in the import's statement shape (ON CONFLICT … DO NOTHING). bench/RESULTS.md says what it showed.
--
--     psql -h 127.0.0.1 -U postgres -d <scratch database> -v rows=1000000 -f bench/holders_key.sql
--
-- Makes and drops tables in the schema `floor` (bench.store_floor's scratch schema).
CREATE SCHEMA IF NOT EXISTS floor;
\timing on
DROP TABLE IF EXISTS floor.src10;
CREATE UNLOGGED TABLE floor.src10 AS SELECT i AS id, sha256(int8send(i)) AS h, '张' || chr(19968 + (i % 2000)::int) AS name FROM generate_series(1, :rows) AS i;
DROP TABLE IF EXISTS floor.hbt, floor.hhs;
CREATE TABLE floor.hbt (id bigint PRIMARY KEY, id_hash bytea NOT NULL, name varchar(100), CONSTRAINT hbt_u UNIQUE (id_hash));
CREATE INDEX ON floor.hbt (name);
CREATE TABLE floor.hhs (id bigint PRIMARY KEY, id_hash bytea NOT NULL, name varchar(100), CONSTRAINT hhs_x EXCLUDE USING hash (id_hash WITH =));
CREATE INDEX ON floor.hhs (name);
CHECKPOINT;
INSERT INTO floor.hbt SELECT id, h, name FROM floor.src10 ORDER BY id ON CONFLICT (id_hash) DO NOTHING;
CHECKPOINT;
INSERT INTO floor.hhs SELECT id, h, name FROM floor.src10 ORDER BY id ON CONFLICT DO NOTHING;
SELECT pg_size_pretty(pg_relation_size('floor.hbt_u')) AS btree, pg_size_pretty(pg_relation_size('floor.hhs_x')) AS hash;
