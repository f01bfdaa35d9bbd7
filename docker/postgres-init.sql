-- Run once by the postgres image on an empty data directory (/docker-entrypoint-initdb.d).
-- One server, four databases, each with its own owner:
--   airflow    Airflow's metadata database
--   dataops    the airflow-dataops state store (ledger, SLI history, contract results, breaches)
--   warehouse  the sample warehouse the example DAG publishes to
--   marquez    Marquez's lineage store
-- The passwords are for a local stack; change them (and the URLs in docker-compose.yaml) elsewhere.
CREATE ROLE airflow LOGIN PASSWORD 'airflow';
CREATE DATABASE airflow OWNER airflow;
CREATE ROLE dataops LOGIN PASSWORD 'dataops';
CREATE DATABASE dataops OWNER dataops;
CREATE ROLE warehouse LOGIN PASSWORD 'warehouse';
CREATE DATABASE warehouse OWNER warehouse;
CREATE ROLE marquez LOGIN PASSWORD 'marquez';
CREATE DATABASE marquez OWNER marquez;
