"""edgetune: fine-tuning models across the edge-to-cloud continuum.

Two papers specify the system:

* SDN-assisted node elimination for data-parallel fine-tuning (``edgetune.selection``,
  ``edgetune.orchestrator``), and
* JQODI model/bit-width/partition/server planning for split fine-tuning (``edgetune.planner``).
"""

__version__ = "0.1.0"
