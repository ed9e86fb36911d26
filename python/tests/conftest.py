import os
import sys

# The Optuna program lives beside the tests and is imported as a module.
sys.path.insert(0, os.path.dirname(__file__))
