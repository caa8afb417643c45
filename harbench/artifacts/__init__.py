"""Saved models of a run: peft adapter, merged model (safetensors), ONNX and its latency."""
