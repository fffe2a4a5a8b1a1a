"""Risk features: pure Spark functions of DataFrames and a cut-off, point-in-time correct."""
