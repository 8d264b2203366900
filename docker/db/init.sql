-- Run by mariadbd at every start of cachecheck/mariadb:local (--init-file): the same login as
-- the official images with an empty root password, root from any host. Kept out of the binlog.
SET sql_log_bin = 0;
CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
