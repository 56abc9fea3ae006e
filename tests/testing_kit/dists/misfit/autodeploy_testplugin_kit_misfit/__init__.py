"""A plugin whose registrations load but break the contract in ways only check_plugin sees."""
