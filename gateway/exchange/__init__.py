"""The exchange: sector systems submit records through the gateway, which stores them durably, delivers them to
the destination connector in order with retries, and publishes what was applied as a change feed and webhooks."""
