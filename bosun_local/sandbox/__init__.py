"""Run package code in throwaway, locked-down containers: the one place outside the PPS where it runs."""
