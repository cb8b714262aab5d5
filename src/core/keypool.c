/* Pre-generated P-384 leaf keys, refilled while idle. */
#include "core/keypool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "crypto/crypto.h"

struct keypool {
    pthread_mutex_t lock;
    pthread_cond_t cond;     /* wakes the refiller */
    pthread_cond_t full;     /* wakes keypool_wait_full */
    pthread_t th;
    bool has_thread;
    bool stop;
    EVP_PKEY **keys;
    size_t n, cap;
    unsigned idle_ms;
    struct timespec last_take;
    uint64_t hits, misses;
};

static EVP_PKEY *gen(void)
{
    EVP_PKEY *k = NULL;
    return cc_key_generate(CC_KEY_EC_P384, 0, &k, NULL) == 0 ? k : NULL;
}

static long ms_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static void *refill(void *arg)
{
    struct keypool *kp = arg;
    pthread_mutex_lock(&kp->lock);
    while (!kp->stop) {
        if (kp->n >= kp->cap) {
            pthread_cond_broadcast(&kp->full);
            pthread_cond_wait(&kp->cond, &kp->lock);
            continue;
        }
        long idle = ms_since(&kp->last_take);
        if (idle < (long)kp->idle_ms) {
            /* busy: wait until the activations stop */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            long wait = (long)kp->idle_ms - idle;
            until.tv_sec += wait / 1000;
            until.tv_nsec += (wait % 1000) * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&kp->cond, &kp->lock, &until);
            continue;
        }
        pthread_mutex_unlock(&kp->lock);
        EVP_PKEY *k = gen();
        pthread_mutex_lock(&kp->lock);
        if (k == NULL)
            continue;
        if (kp->n < kp->cap && !kp->stop)
            kp->keys[kp->n++] = k;
        else
            EVP_PKEY_free(k);
    }
    pthread_mutex_unlock(&kp->lock);
    return NULL;
}

struct keypool *keypool_new(size_t capacity, unsigned idle_ms)
{
    struct keypool *kp = calloc(1, sizeof(*kp));
    if (kp == NULL)
        return NULL;
    pthread_mutex_init(&kp->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&kp->cond, &ca);
    pthread_cond_init(&kp->full, &ca);
    pthread_condattr_destroy(&ca);
    kp->cap = capacity;
    kp->idle_ms = idle_ms;
    clock_gettime(CLOCK_MONOTONIC, &kp->last_take);
    if (capacity > 0) {
        kp->keys = calloc(capacity, sizeof(EVP_PKEY *));
        if (kp->keys == NULL || pthread_create(&kp->th, NULL, refill, kp) != 0) {
            free(kp->keys);
            free(kp);
            return NULL;
        }
        kp->has_thread = true;
    }
    return kp;
}

void keypool_free(struct keypool *kp)
{
    if (kp == NULL)
        return;
    pthread_mutex_lock(&kp->lock);
    kp->stop = true;
    pthread_cond_broadcast(&kp->cond);
    pthread_cond_broadcast(&kp->full);
    pthread_mutex_unlock(&kp->lock);
    if (kp->has_thread)
        pthread_join(kp->th, NULL);
    for (size_t i = 0; i < kp->n; i++)
        EVP_PKEY_free(kp->keys[i]);
    free(kp->keys);
    pthread_cond_destroy(&kp->cond);
    pthread_cond_destroy(&kp->full);
    pthread_mutex_destroy(&kp->lock);
    free(kp);
}

EVP_PKEY *keypool_take(struct keypool *kp)
{
    EVP_PKEY *k = NULL;
    pthread_mutex_lock(&kp->lock);
    clock_gettime(CLOCK_MONOTONIC, &kp->last_take);
    if (kp->n > 0) {
        k = kp->keys[--kp->n];
        kp->hits++;
    } else {
        kp->misses++;
    }
    pthread_cond_signal(&kp->cond);
    pthread_mutex_unlock(&kp->lock);
    return k != NULL ? k : gen();
}

void keypool_stats(struct keypool *kp, uint64_t *hits, uint64_t *misses, size_t *available)
{
    pthread_mutex_lock(&kp->lock);
    if (hits != NULL)
        *hits = kp->hits;
    if (misses != NULL)
        *misses = kp->misses;
    if (available != NULL)
        *available = kp->n;
    pthread_mutex_unlock(&kp->lock);
}

void keypool_wait_full(struct keypool *kp, unsigned timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&kp->lock);
    while (kp->cap > 0 && kp->n < kp->cap && !kp->stop)
        if (pthread_cond_timedwait(&kp->full, &kp->lock, &until) != 0)
            break;
    pthread_mutex_unlock(&kp->lock);
}
