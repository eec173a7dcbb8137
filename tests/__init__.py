"""Tests for the echo_sense Home Assistant integration."""
