"""Prefect flows and deployments that drive the dvc.yaml pipeline.

``flows`` (the Prefect tasks and flows, and the command line), ``plan`` (which stages a run
submits), ``dvc_runner`` (running ``dvc``), ``preflight`` (per-machine setup and checks before any
stage), ``deploy`` and ``prefect.yaml`` (the deployments).
"""
