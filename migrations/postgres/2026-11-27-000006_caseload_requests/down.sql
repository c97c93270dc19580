ALTER TABLE caseloads DROP COLUMN service;
DROP TABLE caseload_requests;
