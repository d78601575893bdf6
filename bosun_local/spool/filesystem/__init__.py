"""FILESYSTEM transport: JSON lines in rotated `fs_spool.<N>` files, one reader with committed offsets."""
