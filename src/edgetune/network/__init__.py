"""The network: transfer-time model, background dynamics, the SDN monitor and its northbound API."""
