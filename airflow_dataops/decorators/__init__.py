"""TaskFlow decorators registered through ``get_provider_info()["task-decorators"]`` (``@task.<name>``)."""
