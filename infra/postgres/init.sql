-- Runs once, when the PostgreSQL volume is created: Prefect's database beside MLflow's.
CREATE DATABASE prefect OWNER ucgan;
