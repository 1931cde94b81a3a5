"""The A3 bridge: paired on-prem agents, their WebSocket connections, the requests sent to them."""
