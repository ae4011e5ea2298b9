import { createApp } from 'vue';
import App from './App.vue';
import { router } from './router';

createApp(App).use(router).mount('#app');
// Performance marks (devtools, and the browser tests' budget): the app shell answers input from here on.
performance.mark('dashboard:interactive');
