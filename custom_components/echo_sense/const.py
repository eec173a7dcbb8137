"""Constants for the echo_sense integration."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "echo_sense"
MANUFACTURER: Final = "echo_sense"

CONF_DEVICE_ID: Final = "device_id"
CONF_DEVICE_NAME: Final = "device_name"
CONF_SAMPLE_RATE: Final = "sample_rate"
CONF_INPUT_CHANNELS: Final = "input_channels"
CONF_OUTPUT_CHANNELS: Final = "output_channels"
CONF_CALIBRATION: Final = "calibration"

# Options (presence).
CONF_SENSITIVITY: Final = "sensitivity"
CONF_HOLD_TIME: Final = "hold_time"
DEFAULT_SENSITIVITY: Final = 50  # percent
DEFAULT_HOLD_TIME_S: Final = 60
MIN_HOLD_TIME_S: Final = 5
MAX_HOLD_TIME_S: Final = 3600

# Options (voice).
CONF_STT_ENGINE: Final = "stt_engine"
CONF_SUPPRESSION_DB: Final = "suppression_db"
DEFAULT_SUPPRESSION_DB: Final = 30
MAX_SUPPRESSION_DB: Final = 100

# Options (spatial speaker).
CONF_LAYOUT: Final = "layout"  # a preset name of echo_sense_dsp.spatial.LAYOUTS
CONF_SOUND_MODE: Final = "sound_mode"  # "spatial" or "stereo"
DEFAULT_SOUND_MODE: Final = "spatial"

# Options (intent rewriter).
CONF_FORWARD_AGENT: Final = "forward_agent"  # the agent echo_sense forwards to; default the built-in one
CONF_REWRITER_ENCODER: Final = "rewriter_encoder"  # a key of echo_sense_dsp.intent.ENCODERS
DEFAULT_ENCODER: Final = "lexical"
