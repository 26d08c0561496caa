/*
 * The environment as the library reads it.  Not installed.
 */
#ifndef XPOLL_SYS_ENV_H
#define XPOLL_SYS_ENV_H

/* getenv(name), except in a program running with privileges its caller
 * lacks (set-user-ID, set-group-ID, or file capabilities where the C
 * library tells): there NULL, so that caller's environment cannot steer
 * the library (src/sys/env.c). */
const char *xpoll__secure_getenv(const char *name);

#endif /* XPOLL_SYS_ENV_H */
