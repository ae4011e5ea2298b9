import { createRouter, createWebHistory } from 'vue-router';
import OverviewView from './views/OverviewView.vue';

/** Every view has its own URL (filters in the query string), so a deep link or reload lands on the same view. */
export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', name: 'overview', component: OverviewView },
    { path: '/task-runs', name: 'task-runs', component: () => import('./views/TaskRunsView.vue') },
    {
      path: '/task-runs/:id',
      name: 'task-run',
      component: () => import('./views/TaskRunView.vue'),
      props: true,
    },
    {
      path: '/background-tasks',
      name: 'background-tasks',
      component: () => import('./views/BackgroundTasksView.vue'),
    },
    { path: '/events', name: 'events', component: () => import('./views/EventsView.vue') },
    {
      path: '/concurrency-limits',
      name: 'concurrency-limits',
      component: () => import('./views/ConcurrencyLimitsView.vue'),
    },
    { path: '/dead-letters', name: 'dead-letters', component: () => import('./views/DeadLettersView.vue') },
    { path: '/:pathMatch(.*)*', name: 'not-found', component: () => import('./views/NotFoundView.vue') },
  ],
});
