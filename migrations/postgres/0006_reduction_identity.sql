-- A reduction row is identified by (doc_no, region, project, adjusts_doc_no):
-- one adjusting document may cut the same region and project in two earlier
-- documents (湘财社指〔2020〕88号 cuts 430111/JS02 of both 10号 and 11号).
ALTER TABLE reductions DROP CONSTRAINT reductions_pkey;
ALTER TABLE reductions ADD PRIMARY KEY (doc_no, region_code, project_code, target_doc_no);
