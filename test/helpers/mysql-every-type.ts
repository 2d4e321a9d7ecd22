/**
 * A MySQL 8.4/9.x table with every column type MySQL has (VECTOR and binary JSON included, with JSON
 * values of every kind: opaque DATE/TIME/DATETIME/DECIMAL/binary, 64-bit integers, doubles, nested
 * and large documents), and statements that insert, update and delete edge values. No GEOMETRY:
 * mysqlbinlog 9.7 stops printing a rows event at one ("Don't know how to handle column type=255"),
 * so it cannot serve as an oracle there; the MariaDB differential test covers geometry.
 */
export const MYSQL_EVERY_TYPE_SQL = `
CREATE TABLE t_all (
  id INT PRIMARY KEY AUTO_INCREMENT,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
  i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  d DECIMAL(65,30), d2 DECIMAL(10,2), f FLOAT, db DOUBLE,
  b1 BIT(1), b7 BIT(7), b64 BIT(64),
  dt DATE, dtm DATETIME(6), dtm0 DATETIME, ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME(6), tm0 TIME, y YEAR,
  vc VARCHAR(100) CHARACTER SET utf8mb4, c10 CHAR(10) CHARACTER SET utf8mb4, vl VARCHAR(50) CHARACTER SET latin1,
  cl CHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_as_cs, tx TEXT CHARACTER SET utf8mb4,
  bn BINARY(8), vb VARBINARY(20), bl BLOB, lb LONGBLOB,
  e ENUM('a','b,c','it''s','x"y'), s SET('p','q r','s''t','u"v'),
  j JSON, v VECTOR(3), vbig VECTOR(300)
) ENGINE=InnoDB;

SET time_zone = '+00:00';
SET sql_mode = 'NO_ENGINE_SUBSTITUTION';
INSERT INTO t_all (ti,tiu,si,siu,mi,miu,i,iu,bi,biu,d,d2,f,db,b1,b7,b64,dt,dtm,dtm0,ts,tm,tm0,y,vc,c10,vl,cl,tx,bn,vb,bl,lb,e,s,j,v,vbig) VALUES
 (-128,255,-32768,65535,-8388608,16777215,-2147483648,4294967295,-9223372036854775808,18446744073709551615,
  '-12345678901234567890123456789012345.123456789012345678901234567890','-99999999.99',-1.5e-10,1.7976931348623157e308,
  b'1',b'1010101',b'1111111111111111111111111111111111111111111111111111111111111111',
  '0000-00-00','0000-00-00 00:00:00.000000','9999-12-31 23:59:59','2038-01-19 03:14:07.999999','-838:59:59.000000','-00:00:01',0,
  'héllo 𝄞 wörld','abc','café ñ',REPEAT('é',255),'long text ✓',
  x'0001020300',x'00ff7f80',x'deadbeef00',REPEAT(x'ab',70000),
  'b,c','q r,s''t,u"v',
  JSON_OBJECT('a', JSON_ARRAY(1, 2.5, 'x', NULL, TRUE, FALSE), 'b', NULL, 'nested', JSON_OBJECT('k', JSON_ARRAY(JSON_OBJECT())),
    'i64', -9223372036854775808, 'u64', 18446744073709551615, 'i32', -2147483648, 'u32', 4294967295, 'i16', -32768,
    'dbl', 1e300, 'negzero', -0.0, 'esc', 'quote " backslash \\\\ tab \t nl \n ü 𝄞',
    'date', CAST('2024-02-29' AS DATE), 'time', CAST('-12:34:56.5' AS TIME(1)),
    'datetime', CAST('2020-01-01 01:02:03.456' AS DATETIME(3)), 'dec', CAST('-1234.5670' AS DECIMAL(12,4)),
    'bin', CAST(x'0aff00' AS BINARY), 'big', REPEAT('z', 70000)),
  TO_VECTOR('[1.5,-2,3.25e10]'), TO_VECTOR(CONCAT('[', REPEAT('0.1,', 299), '7]'))),
 (127,0,32767,0,8388607,0,2147483647,0,9223372036854775807,0,'0.000000000000000000000000000001','0.00',3.4e38,-2.2250738585072014e-308,
  b'0',b'0',b'0','1000-01-01','1000-01-01 00:00:00.000001','1970-01-01 00:00:01','1970-01-01 00:00:01.000000','838:59:59.999999','12:34:56',2155,
  '', '', '', '', '', '', '', '', '', 'it''s','', '[1e20, 0.00000015, 32500000000.0, -1e-300, 0.30000000000000004]',
  TO_VECTOR('[0,0,0]'), NULL),
 (NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO t_all (y, e, s, tm, dtm, j) VALUES (1901,'x"y','p,u"v','00:00:00.5','2024-02-29 12:00:00.5', '"scalar"');
UPDATE t_all SET vc = CONCAT(vc, '!'), biu = 1, y = 2000, e = 'a', s = '' WHERE id = 1;
UPDATE t_all SET ti = 1, j = '{"k":"v"}' WHERE id = 3;
UPDATE t_all SET j = JSON_SET(j, '$.a[0]', 5, '$.new', JSON_ARRAY(1)), v = TO_VECTOR('[9,8,7]') WHERE id = 1;
DELETE FROM t_all WHERE id = 2;
`;

/** Row changes the statements above make: 4 inserts, 3 updates, 1 delete. */
export const MYSQL_EVERY_TYPE_ROWS = 8;
