-- Timbre catalog, eighth schema: the device a library's root was on at its last complete scan
-- (st_dev of the root folder). A scan that finds the root on another device (an unmounted disk
-- leaves its mount point on the parent file system; another disk mounted in its place) and
-- would mark tracks gone refuses unless --allow-mass-removal is given. NULL: not scanned yet.
ALTER TABLE libraries ADD COLUMN root_device bigint;
