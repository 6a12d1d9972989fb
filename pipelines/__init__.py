"""Prefect flows and deployments that drive the dvc.yaml pipeline (see pipelines/benchmark.py)."""
