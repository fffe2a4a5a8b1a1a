"""Spark jobs: source descriptions, landing-file reading, bronze/silver/quarantine writes.

Nothing in this package imports Dagster, so every function runs with a plain SparkSession.
"""
