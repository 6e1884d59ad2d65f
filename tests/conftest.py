import sys
from pathlib import Path

# tests/browser.py is a helper module shared by the tests, not a test file
sys.path.insert(0, str(Path(__file__).parent))
