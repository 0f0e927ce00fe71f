BEGIN TRANSACTION;
CREATE TABLE deliveries (
	guid TEXT NOT NULL, 
	event TEXT NOT NULL, 
	action TEXT, 
	status TEXT NOT NULL, 
	reason TEXT NOT NULL, 
	received_at DATETIME NOT NULL, 
	payload BLOB NOT NULL, 
	repository TEXT, 
	installation_id BIGINT, 
	PRIMARY KEY (guid)
);
INSERT INTO "deliveries" VALUES('d-push-1','push',NULL,'succeeded','2 jobs','2026-10-01 09:00:00.250000',X'7B22726566223A22726566732F68656164732F6D61696E222C226166746572223A226331227D','my-org/platform',42);
INSERT INTO "deliveries" VALUES('d-bad','push',NULL,'invalid','not JSON','2026-10-01 09:00:01.250000',X'000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F404142434445464748494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F606162636465666768696A6B6C6D6E6F707172737475767778797A7B7C7D7E7F808182838485868788898A8B8C8D8E8F909192939495969798999A9B9C9D9E9FA0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBFC0C1C2C3C4C5C6C7C8C9CACBCCCDCECFD0D1D2D3D4D5D6D7D8D9DADBDCDDDEDFE0E1E2E3E4E5E6E7E8E9EAEBECEDEEEFF0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF',NULL,NULL);
INSERT INTO "deliveries" VALUES('d-ping','ping',NULL,'ignored','ping','2026-10-01 09:00:02.250000',X'7B227A656E223A226869227D',NULL,NULL);
INSERT INTO "deliveries" VALUES('d-push-2','push',NULL,'queued','','2026-10-01 09:00:06.250000',X'7B22726566223A22726566732F68656164732F6D61696E222C226166746572223A226332227D','my-org/platform',42);
CREATE TABLE jobs (
	id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, 
	kind TEXT NOT NULL, 
	repository TEXT NOT NULL, 
	promise TEXT, 
	commit_sha TEXT, 
	payload TEXT NOT NULL, 
	delivery_guid TEXT, 
	supersedes BOOLEAN NOT NULL, 
	status TEXT NOT NULL, 
	attempts INTEGER NOT NULL, 
	worker TEXT, 
	lease_until DATETIME, 
	created_at DATETIME NOT NULL, 
	started_at DATETIME, 
	finished_at DATETIME, 
	error TEXT, 
	result TEXT, 
	FOREIGN KEY(delivery_guid) REFERENCES deliveries (guid) ON DELETE SET NULL
);
INSERT INTO "jobs" VALUES(1,'delivery','my-org/platform',NULL,NULL,'{"guid":"d-push-1"}','d-push-1',0,'succeeded',1,'host-a:1',NULL,'2026-10-01 09:00:00.250000','2026-10-01 09:00:03.250000','2026-10-01 09:00:03.250000',NULL,'{"queued":2}');
INSERT INTO "jobs" VALUES(2,'reconcile','my-org/platform','redis','c1','{"commit":"c1"}','d-push-1',1,'succeeded',1,'host-a:1',NULL,'2026-10-01 09:00:03.250000','2026-10-01 09:00:04.250000','2026-10-01 09:00:04.250000',NULL,'{"outcome":"opened","pull_request":7}');
INSERT INTO "jobs" VALUES(3,'reconcile','my-org/platform','postgres','c1','{"commit":"c1"}','d-push-1',1,'failed',1,'host-a:2',NULL,'2026-10-01 09:00:03.250000','2026-10-01 09:00:04.250000','2026-10-01 09:00:04.250000','pipeline failed: exit 1',NULL);
INSERT INTO "jobs" VALUES(4,'reconcile','my-org/other',NULL,'c9','{"reason":"schedule"}',NULL,1,'superseded',0,NULL,NULL,'2026-10-01 09:00:05.250000',NULL,'2026-10-01 09:00:05.250000','superseded by job 5',NULL);
INSERT INTO "jobs" VALUES(5,'reconcile','my-org/other',NULL,'c10','{"reason":"schedule"}',NULL,1,'running',1,'host-b:1','2026-10-01 09:01:06.250000','2026-10-01 09:00:05.250000','2026-10-01 09:00:06.250000',NULL,NULL,NULL);
INSERT INTO "jobs" VALUES(6,'preview','my-org/platform','redis','c2','{"pull":3}',NULL,0,'queued',0,NULL,NULL,'2026-10-01 09:00:06.250000',NULL,NULL,NULL,NULL);
INSERT INTO "jobs" VALUES(7,'delivery','my-org/platform',NULL,NULL,'{"guid":"d-push-2"}','d-push-2',0,'queued',0,NULL,NULL,'2026-10-01 09:00:06.250000',NULL,NULL,NULL,NULL);
CREATE TABLE repositories (
	full_name TEXT NOT NULL, 
	installation_id BIGINT NOT NULL, 
	default_branch TEXT NOT NULL, 
	registered_at DATETIME NOT NULL, 
	last_reconcile_at DATETIME, 
	last_result TEXT, 
	PRIMARY KEY (full_name)
);
INSERT INTO "repositories" VALUES('my-org/platform',42,'main','2026-10-01 09:00:00.250000','2026-10-01 09:00:00.250000','{"interval":3600,"outcome":"succeeded","retries":{"redis":"2026-10-01T09:05:00.250000+00:00"}}');
INSERT INTO "repositories" VALUES('my-org/other',43,'trunk','2026-10-01 09:00:00.250000',NULL,NULL);
CREATE TABLE schema_version (
	version INTEGER NOT NULL
);
INSERT INTO "schema_version" VALUES(1);
CREATE INDEX deliveries_received ON deliveries (received_at);
CREATE INDEX jobs_status ON jobs (status, id);
CREATE INDEX jobs_repository ON jobs (repository, status);
CREATE INDEX jobs_delivery ON jobs (delivery_guid);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('jobs',7);
COMMIT;
