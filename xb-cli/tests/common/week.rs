//! A week of changes in miniature: the SQL run before each of a week's backups (a full on day
//! 0, one incremental a day for six days), with DML and DDL: INSERT/UPDATE/DELETE, CREATE,
//! DROP, RENAME including a name swap, TRUNCATE, ADD COLUMN, ALTER ... FORCE,
//! ROW_FORMAT=COMPRESSED tables. Shared by the week tests.

use std::collections::BTreeMap;

use xb_testkit::sandbox::Sandbox;

/// What runs before each backup: day 0 before the full, days 1-6 before the incrementals.
pub const DAYS: [&str; 7] = [
    // day 0
    "CREATE DATABASE week; USE week;
     CREATE TABLE orders (id INT PRIMARY KEY, customer VARCHAR(40), total DECIMAL(10,2),
                          KEY (customer)) ENGINE=InnoDB;
     INSERT INTO orders SELECT seq, CONCAT('c', seq % 101), seq * 1.25 FROM seq_1_to_3000;
     CREATE TABLE notes (id INT PRIMARY KEY, body TEXT) ENGINE=InnoDB
            ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8;
     INSERT INTO notes SELECT seq, REPEAT(SHA2(seq, 256), 3) FROM seq_1_to_600;
     CREATE TABLE audit (id INT PRIMARY KEY, what VARCHAR(64)) ENGINE=InnoDB;
     INSERT INTO audit SELECT seq, CONCAT('event ', seq) FROM seq_1_to_500;
     CREATE TABLE scratch (id INT PRIMARY KEY, v INT) ENGINE=InnoDB;
     INSERT INTO scratch SELECT seq, seq FROM seq_1_to_200;
     CREATE TABLE legacy (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB;
     INSERT INTO legacy SELECT seq, CONCAT('old ', seq) FROM seq_1_to_300;
     CREATE TABLE swap_a (id INT PRIMARY KEY, tag CHAR(1)) ENGINE=InnoDB;
     INSERT INTO swap_a SELECT seq, 'a' FROM seq_1_to_100;
     CREATE TABLE swap_b (id INT PRIMARY KEY, tag CHAR(1)) ENGINE=InnoDB;
     INSERT INTO swap_b SELECT seq, 'b' FROM seq_1_to_150;",
    // day 1: DML, a new table
    "USE week;
     INSERT INTO orders SELECT seq, 'new', 9.99 FROM seq_3001_to_3500;
     UPDATE orders SET total = total + 1 WHERE id % 10 = 0;
     DELETE FROM orders WHERE id % 13 = 0;
     CREATE TABLE events (id INT PRIMARY KEY, at INT) ENGINE=InnoDB;
     INSERT INTO events SELECT seq, seq * 60 FROM seq_1_to_400;",
    // day 2: DROP, RENAME, the compressed table changes
    "USE week;
     DROP TABLE scratch;
     RENAME TABLE legacy TO archive;
     INSERT INTO archive SELECT seq, 'renamed' FROM seq_301_to_350;
     UPDATE notes SET body = REPEAT('changed on day 2 ', 20) WHERE id <= 80;",
    // day 3: TRUNCATE, ADD COLUMN
    "USE week;
     TRUNCATE TABLE audit;
     INSERT INTO audit SELECT seq, 'after truncate' FROM seq_1_to_50;
     ALTER TABLE orders ADD COLUMN note VARCHAR(20) NOT NULL DEFAULT 'n';
     UPDATE orders SET note = 'x' WHERE id % 5 = 0;",
    // day 4: table rebuilds (new space ids), including the compressed one
    "USE week;
     ALTER TABLE notes FORCE;
     INSERT INTO notes SELECT seq, REPEAT('day 4', 30) FROM seq_601_to_700;
     ALTER TABLE archive FORCE;
     DELETE FROM archive WHERE id % 3 = 0;",
    // day 5: a name swap, a range delete
    "USE week;
     RENAME TABLE swap_a TO swap_tmp, swap_b TO swap_a, swap_tmp TO swap_b;
     UPDATE swap_a SET tag = 'B' WHERE id <= 10;
     DELETE FROM orders WHERE id BETWEEN 100 AND 400;",
    // day 6: drop and re-create under the same name, a new compressed table
    "USE week;
     DROP TABLE events;
     CREATE TABLE events (id INT PRIMARY KEY, label VARCHAR(10)) ENGINE=InnoDB;
     INSERT INTO events SELECT seq, CONCAT('e', seq) FROM seq_1_to_30;
     CREATE TABLE zipped (id INT PRIMARY KEY, payload VARBINARY(200)) ENGINE=InnoDB
            ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=4;
     INSERT INTO zipped SELECT seq, UNHEX(SHA2(seq, 512)) FROM seq_1_to_400;
     UPDATE orders SET total = total * 2 WHERE id > 3400;",
];

/// The tables of the `week` database, sorted.
pub fn tables(server: &Sandbox) -> Vec<String> {
    server
        .query_rows(
            "SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.tables \
             WHERE table_schema = 'week' ORDER BY 1",
        )
        .unwrap()
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
}

/// `CHECKSUM TABLE` of `names` on `server`.
pub fn checksums(server: &Sandbox, names: &[String]) -> BTreeMap<String, String> {
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    server.checksum_tables(&refs).unwrap()
}
