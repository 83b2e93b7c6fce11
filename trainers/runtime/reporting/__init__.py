"""What a run tells people and tools: progress lines, the history of report periods
(metrics.json, the run's own record), and sinks that each period's row goes to (Katib lines,
TensorBoard, and whatever is registered: a tracking server)."""

from trainers.runtime.reporting.files import write_json_atomically
from trainers.runtime.reporting.progress import Progress, format_duration
from trainers.runtime.reporting.sink import katib_line

__all__ = ["Progress", "format_duration", "katib_line", "write_json_atomically"]
