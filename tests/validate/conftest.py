import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `from tests.toybundle import ...` under plain `pytest` too
    sys.path.insert(0, str(ROOT))
