"""autodeploy-plugin-sharding: tensor parallelism for exported graphs (AutoDeploy's sharding stage)."""
