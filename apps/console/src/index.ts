// @pitcrew/console: the operator's console (issue 18). Its modules are exported from here as they land.
export {};
