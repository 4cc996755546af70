"""Prefect flows and the `sachsong` CLI. The only room that imports Prefect."""
