"""Test-session set-up shared by every test module."""

import os

# scikit-learn's check_array_api_input (run by parametrize_with_checks) is skipped unless SciPy's
# array-API mode is on; it must be set before SciPy is first imported. With NumPy inputs it does not
# change any result, and it lets that check run instead of being skipped.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
