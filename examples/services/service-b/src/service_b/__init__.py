"""service-b: summary statistics of numbers given on the command line."""
