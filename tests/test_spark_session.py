"""The SparkSession the project configures: the settings it runs with reach the JVM."""

from __future__ import annotations

from jobs.spark_session import LOCAL_DEFAULTS


def test_the_driver_jvm_runs_the_throughput_collector(spark):
    beans = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()
    collectors = {bean.getName() for bean in beans}
    assert "-XX:+UseParallelGC" in LOCAL_DEFAULTS["spark.driver.extraJavaOptions"]
    assert collectors == {"PS Scavenge", "PS MarkSweep"}, collectors
