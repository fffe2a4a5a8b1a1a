"""The SparkSession the project configures: the settings it runs with reach the JVM."""

from __future__ import annotations


def test_the_local_driver_jvm_runs_the_throughput_collector(spark):
    beans = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()
    collectors = {bean.getName() for bean in beans}
    assert collectors == {"PS Scavenge", "PS MarkSweep"}, collectors
