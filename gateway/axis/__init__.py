"""The integration axis: the catalogue of national databases, their connections' live state and health."""
