module example.com/several
require
